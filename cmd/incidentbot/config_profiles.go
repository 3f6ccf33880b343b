package main

// loopFile is the part of the config file about Alertmanager and
// Prometheus in the loop: silences and heap profiles.
type loopFile struct {
	Silences struct {
		// ExpireOnResolve ends an incident's silences when it resolves;
		// default true.
		ExpireOnResolve *bool `yaml:"expire_on_resolve"`
	} `yaml:"silences"`
}

// loopConfig is loopFile checked.
type loopConfig struct {
	KeepSilences bool
}

func (f *loopFile) compile() (*loopConfig, error) {
	c := &loopConfig{}
	if e := f.Silences.ExpireOnResolve; e != nil && !*e {
		c.KeepSilences = true
	}
	return c, nil
}
