// Package deploy holds the manifests that run casebook in a cluster
// (casebook-agent.yaml, see README.md). It has no code; its test checks the
// manifests: read-only RBAC that covers what the detectors read, and a
// locked-down Deployment.
package deploy
