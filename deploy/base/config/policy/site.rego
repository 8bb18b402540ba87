# Site-specific rules, laid over privgate's embedded policy. Empty by default: add rules in
# package privgate (they add to deny and warn), and their tests in a *_test.rego file beside.
package privgate
