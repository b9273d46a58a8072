package servicehealth

// WithConnecting returns cfg whose default client tells connecting each
// address it is about to connect to, after the policy admitted it.
func WithConnecting(cfg Config, connecting func(address string)) Config {
	cfg.connecting = connecting
	return cfg
}
