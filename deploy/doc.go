// Package deploy holds offpush's deployment files and the tests that keep them true to the
// code. It has no Go API.
//
//	compose/       the configuration and credentials (made by hand, see README.md) of the
//	               Docker Compose demo in ../docker-compose.yml
//	kubernetes/    Deployment, ConfigMap, Secret template, Service, PodDisruptionBudget and
//	               KEDA ScaledObject, listed by kustomization.yaml
//	prometheus/    the compose Prometheus's scrape configuration and the alert rules
//	grafana/       the dashboard and the compose Grafana's provisioning
//
// The tests parse every YAML and JSON file here and check what a typo would silently break:
// the embedded offpush configurations load and validate with config.Load, every OFFPUSH_
// variable names a real key, ports, names and paths agree between the files and the
// configuration, and alerts and the dashboard use only the metrics the worker exports.
package deploy
