// Package audit is privgate's view of the whole zone: an informer cache of what is stored (the
// cluster view the webhook's cross-object rules read), and the audit that judges every stored
// object with the same core, writing its verdicts as OpenReports and metrics.
package audit
