// Package certs makes and serves privgate's TLS serving certificates: a small CA and leaf
// certificates it signs (ECDSA P-256), written as files for a cert dir or kept in a Secret.
package certs
