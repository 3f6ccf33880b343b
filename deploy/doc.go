// Package deploy holds what an operator copies to run incidentbot: the
// Alertmanager receiver, Prometheus alerting rules and their unit tests,
// Kubernetes manifests and a compose file for a local trial. It has no code;
// its tests check that those files are valid and keep their promises (one
// replica, probes, a non-root image, every alert unit-tested).
package deploy
