//go:build !linux

package main

import "os"

// selfExe is the worker binary.
func selfExe() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return os.Args[0]
}

// watchParent returns a channel closed once the guard's parent is gone.
func watchParent(parent int) <-chan struct{} { return pollParent(parent) }
