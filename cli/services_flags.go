package cli

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/client"
)

// serviceFlags are the declaration flags of add and patch.
type serviceFlags struct {
	name, kind, baseURL, healthURL, metadata, interval string
	capabilities                                       []string
	clearCapabilities                                  bool
}

func (sf *serviceFlags) register(cmd *cobra.Command, patch bool) {
	fl := cmd.Flags()
	fl.StringVar(&sf.name, "name", "", "display name (default: the slug)")
	fl.StringVar(&sf.kind, "kind", "", "kind of service, e.g. llm, search, database")
	if patch {
		fl.StringVar(&sf.baseURL, "base-url", "", "root URL (http or https)")
	}
	fl.StringVar(&sf.healthURL, "health-url", "", "health check URL (default: <base-url>/healthz)")
	fl.StringArrayVar(&sf.capabilities, "capability", nil, "a `capability` such as chat (repeatable)")
	fl.StringVar(&sf.metadata, "metadata", "", "metadata as a JSON `object`, e.g. '{\"owner\":\"ml\"}'")
	help := "check interval of this service, e.g. 10s (default: the daemon's --health-interval)"
	if patch {
		help = "check interval of this service, e.g. 10s; \"default\" goes back to the daemon's"
		fl.BoolVar(&sf.clearCapabilities, "clear-capabilities", false, "remove every capability")
	}
	fl.StringVar(&sf.interval, "health-interval", "", help)
}

func checkMetadataFlag(s string) (json.RawMessage, error) {
	if !json.Valid([]byte(s)) || !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return nil, usageErrorf("--metadata %q: want a JSON object, e.g. '{\"owner\":\"ml\"}'", s)
	}
	return json.RawMessage(s), nil
}

func checkIntervalFlag(s string) error {
	if _, err := time.ParseDuration(s); err != nil {
		return usageErrorf("--health-interval %q: want a duration such as 30s or 5m", s)
	}
	return nil
}

func (sf *serviceFlags) spec(slug, baseURL string) (client.ServiceSpec, error) {
	spec := client.ServiceSpec{Slug: slug, Name: sf.name, Kind: sf.kind, BaseURL: baseURL, HealthURL: sf.healthURL,
		Capabilities: sf.capabilities, HealthInterval: sf.interval}
	if sf.metadata != "" {
		m, err := checkMetadataFlag(sf.metadata)
		if err != nil {
			return spec, err
		}
		spec.Metadata = m
	}
	if sf.interval != "" {
		if err := checkIntervalFlag(sf.interval); err != nil {
			return spec, err
		}
	}
	return spec, nil
}

func (sf *serviceFlags) patch(cmd *cobra.Command) (client.UpdateServiceRequest, error) {
	var p client.UpdateServiceRequest
	fl := cmd.Flags()
	set := func(name string, v *string) *string {
		if fl.Changed(name) {
			return v
		}
		return nil
	}
	p.Name, p.Kind, p.BaseURL, p.HealthURL = set("name", &sf.name), set("kind", &sf.kind), set("base-url", &sf.baseURL), set("health-url", &sf.healthURL)
	if fl.Changed("capability") && sf.clearCapabilities {
		return p, usageErrorf("--capability and --clear-capabilities contradict each other")
	}
	if fl.Changed("capability") {
		p.Capabilities = &sf.capabilities
	}
	if sf.clearCapabilities {
		p.Capabilities = &[]string{}
	}
	if fl.Changed("metadata") {
		m, err := checkMetadataFlag(sf.metadata)
		if err != nil {
			return p, err
		}
		p.Metadata = m
	}
	if fl.Changed("health-interval") {
		iv := sf.interval
		if iv == "default" {
			iv = ""
		} else if err := checkIntervalFlag(iv); err != nil {
			return p, err
		}
		p.HealthInterval = &iv
	}
	if p.Name == nil && p.Kind == nil && p.BaseURL == nil && p.HealthURL == nil && p.Capabilities == nil && p.Metadata == nil && p.HealthInterval == nil {
		return p, usageErrorf("nothing to change: give at least one of --name, --kind, --base-url, --health-url, --capability, --clear-capabilities, --metadata, --health-interval")
	}
	return p, nil
}
