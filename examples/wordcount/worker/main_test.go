package main

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/paddock-zk/paddock/worker"
)

func TestWordcount(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       Count
	}{
		{"empty", "", Count{Top: []WordCount{}}},
		{"case and punctuation", "The cat; the HAT. It's the cat's!", Count{Words: 7, Distinct: 5, Top: []WordCount{
			{"the", 3}, {"cat", 1}, {"cat's", 1}, {"hat", 1}, {"it's", 1}}}},
		{"unicode", "Zoë zoë 東京 42", Count{Words: 4, Distinct: 3, Top: []WordCount{{"zoë", 2}, {"42", 1}, {"東京", 1}}}},
	} {
		out, err := wordcount(context.Background(), &worker.Task{Payload: []byte(tc.text)})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got Count
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: output %s: %v", tc.name, out, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestWordcountKeepsTheTop(t *testing.T) {
	out, err := wordcount(context.Background(), &worker.Task{Payload: []byte("a b c d e f g h i j k l a")})
	if err != nil {
		t.Fatal(err)
	}
	var got Count
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Words != 13 || got.Distinct != 12 || len(got.Top) != topN || got.Top[0] != (WordCount{"a", 2}) || got.Top[9].Word != "j" {
		t.Errorf("%+v, want 13 words, 12 distinct, the top 10 from a (2) to j", got)
	}
}

func TestWordcountRefusesBinary(t *testing.T) {
	_, err := wordcount(context.Background(), &worker.Task{Payload: []byte{0xff, 0xfe}})
	if !errors.Is(err, worker.ErrSkipRetry) {
		t.Errorf("error %v, want one that skips retries", err)
	}
}
