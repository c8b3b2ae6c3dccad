package drill

import "fmt"

// RegionInfo describes one running region for its users.
type RegionInfo struct {
	Name string `json:"name"`
	// Endpoint is the region's local AWS, behind its partition proxy.
	Endpoint         string `json:"endpoint"`
	Bus              string `json:"bus"`
	Table            string `json:"table"`
	ProcessingDLQURL string `json:"processingDlqUrl"`
	DeliveryDLQURL   string `json:"deliveryDlqUrl"`
}

// EndpointURL is the local global endpoint's URL: publish here.
func (e *Env) EndpointURL() string { return e.endpoint.URL }

// Regions describes the primary and the secondary.
func (e *Env) Regions() []RegionInfo {
	var out []RegionInfo
	for _, r := range e.regions() {
		res := r.pipe.Resources
		out = append(out, RegionInfo{
			Name: r.name, Endpoint: r.part.URL, Bus: res.Bus, Table: res.Table,
			ProcessingDLQURL: res.ProcessingDLQURL, DeliveryDLQURL: res.DeliveryDLQURL,
		})
	}
	return out
}

// Progress is a snapshot of routing, health, replication and processing.
func (e *Env) Progress() Progress { return e.snapshot() }

// Heal reconnects the named region and removes its processor fault.
func (e *Env) Heal(name string) error {
	r := e.region(name)
	if r == nil {
		return fmt.Errorf("heal %q: not a region of this run (%s, %s)", name, e.cfg.Primary, e.cfg.Secondary)
	}
	r.part.Heal()
	r.faulty.Store(false)
	return nil
}

// FailProcessor makes the named region's processor's DynamoDB calls fail
// (HTTP 500) until Heal.
func (e *Env) FailProcessor(name string) error {
	r := e.region(name)
	if r == nil {
		return fmt.Errorf("fail %q: not a region of this run (%s, %s)", name, e.cfg.Primary, e.cfg.Secondary)
	}
	r.faulty.Store(true)
	return nil
}
