{{/*
Helm's standard labels, and the only labels the chart adds to what the overlays render: a test
comparing the chart with deploy/overlays strips exactly these keys. Pod templates and selectors
keep the overlays' app.kubernetes.io/name alone.
*/}}
{{- define "privgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The container image: repository@digest when a digest is given, else repository:tag. */}}
{{- define "privgate.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* privgate.yaml's text: the string as given, or the map written out. */}}
{{- define "privgate.configYaml" -}}
{{- if kindIs "string" .Values.config.privgateYaml -}}
{{ .Values.config.privgateYaml }}
{{- else -}}
{{ toYaml .Values.config.privgateYaml }}{{ "\n" }}
{{- end -}}
{{- end -}}

{{/*
privgate.yaml as an object, to read the keys the chart must agree with (the Keycloak secret's
path). Empty with config.existingConfigMap: the chart cannot see that ConfigMap.
*/}}
{{- define "privgate.configObject" -}}
{{- if .Values.config.existingConfigMap -}}
{}
{{- else if kindIs "string" .Values.config.privgateYaml -}}
{{ .Values.config.privgateYaml | fromYaml | toJson }}
{{- else -}}
{{ .Values.config.privgateYaml | toJson }}
{{- end -}}
{{- end -}}

{{/* The data of ConfigMap privgate-config, as JSON (lossless for the name's hash). */}}
{{- define "privgate.configData" -}}
{{ dict "privgate.yaml" (include "privgate.configYaml" .) "groups.txt" (.Values.groups | default "") | toJson }}
{{- end -}}

{{/*
The name of the config ConfigMap. Ours carries the suffix kustomize's configMapGenerator gives
privgate-config, computed the same way (kustomize api/hasher: sha256 of the JSON of kind, data and
an empty name, its first ten hex digits with 0 1 3 a e spelled g h k m t), so the chart renders the
overlays' name and a config change rolls the pods, which read the config only at start.
*/}}
{{- define "privgate.configMapName" -}}
{{- if .Values.config.existingConfigMap -}}
{{ .Values.config.existingConfigMap }}
{{- else -}}
{{- $data := include "privgate.configData" . | fromJson -}}
{{- $hash := dict "data" $data "kind" "ConfigMap" "name" "" | toJson | sha256sum | trunc 10 -}}
privgate-config-{{ $hash | replace "0" "g" | replace "1" "h" | replace "3" "k" | replace "a" "m" | replace "e" "t" }}
{{- end -}}
{{- end -}}

{{/* The policy ConfigMap's name: fixed, so a policy edit reaches running pods without a rollout. */}}
{{- define "privgate.policyConfigMapName" -}}
{{- .Values.policy.existingConfigMap | default "privgate-policy" -}}
{{- end -}}

{{/* Namespaces never sent to privgate: the cluster's own, privgate's, then any the user adds. */}}
{{- define "privgate.excludedNamespaces" -}}
{{- concat (list "kube-system" .Values.namespace) .Values.webhook.excludedNamespaces | uniq | toJson -}}
{{- end -}}

{{/*
Where the Keycloak client-secret Secret is mounted: the directory of privgate.yaml's
groups.keycloak.clientSecretFile, checked here so that a wrong path fails at install rather than
at the pod's start.
*/}}
{{- define "privgate.keycloakDir" -}}
{{- if .Values.config.existingConfigMap -}}
/etc/privgate/keycloak
{{- else -}}
{{- $cfg := include "privgate.configObject" . | fromJson -}}
{{- $file := dig "groups" "keycloak" "clientSecretFile" "" $cfg | toString -}}
{{- if not $file -}}
{{- fail "keycloak.existingSecret is set, but privgate.yaml (config.privgateYaml) has no groups.keycloak.clientSecretFile: name the secret's file in the mount, e.g. /etc/privgate/keycloak/client-secret (docs/keycloak.md)" -}}
{{- end -}}
{{- if not (isAbs $file) -}}
{{- fail (printf "privgate.yaml: groups.keycloak.clientSecretFile: %q must be an absolute path such as /etc/privgate/keycloak/client-secret (a relative one lies in the read-only config mount, where the Secret cannot be mounted)" $file) -}}
{{- end -}}
{{- $dir := dir $file -}}
{{- /* the other mounts: the Secret's may be neither one of them, nor inside one, nor above one */ -}}
{{- range list "/etc/privgate/config" "/etc/privgate/policy.d" "/etc/privgate/tls" -}}
{{- if or (eq $dir .) (hasPrefix (printf "%s/" .) $dir) (hasPrefix (printf "%s/" (trimSuffix "/" $dir)) .) -}}
{{- fail (printf "privgate.yaml: groups.keycloak.clientSecretFile: %q: the Secret is mounted at its directory, %s, which clashes with the mount at %s; use a directory of its own such as /etc/privgate/keycloak" $file $dir .) -}}
{{- end -}}
{{- end -}}
{{- $dir -}}
{{- end -}}
{{- end -}}

{{/* Checks across values that values.schema.json cannot express. */}}
{{- define "privgate.validate" -}}
{{- if and .Values.podDisruptionBudget.enabled (not (kindIs "string" .Values.podDisruptionBudget.minAvailable)) -}}
{{- if ge (int .Values.podDisruptionBudget.minAvailable) (int .Values.replicaCount) -}}
{{- fail (printf "podDisruptionBudget.minAvailable (%d) must be below replicaCount (%d), or no node could ever be drained; raise replicaCount or set podDisruptionBudget.enabled=false" (int .Values.podDisruptionBudget.minAvailable) (int .Values.replicaCount)) -}}
{{- end -}}
{{- end -}}
{{- if and (not .Values.config.existingConfigMap) (empty .Values.config.privgateYaml) -}}
{{- fail "config.privgateYaml is empty: privgate needs its privgate.yaml (or name your own ConfigMap in config.existingConfigMap)" -}}
{{- end -}}
{{- if and (not .Values.config.existingConfigMap) (kindIs "string" .Values.config.privgateYaml) -}}
{{- $parsed := fromYaml .Values.config.privgateYaml -}}
{{- if hasKey $parsed "Error" -}}
{{- fail (printf "config.privgateYaml is not valid YAML: %s" (get $parsed "Error")) -}}
{{- end -}}
{{- end -}}
{{- if and (not .Values.config.existingConfigMap) (not .Values.keycloak.existingSecret) -}}
{{- $cfg := include "privgate.configObject" . | fromJson -}}
{{- if eq (dig "groups" "source" "" $cfg | toString) "keycloak" -}}
{{- fail "privgate.yaml says groups.source: keycloak, but keycloak.existingSecret is empty: name the Secret holding the client secret (docs/keycloak.md), or privgate cannot start" -}}
{{- end -}}
{{- end -}}
{{- end -}}
