package paddock

// KeysSupported tells the tests whether the protocol honours keys yet.
const KeysSupported = keysSupported
