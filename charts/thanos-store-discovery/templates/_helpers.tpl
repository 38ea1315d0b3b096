{{/* Chart name, overridable. */}}
{{- define "tsd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource base name: the release name, suffixed with the chart name unless it already contains it. */}}
{{- define "tsd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tsd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tsd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tsd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tsd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "tsd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tsd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Where the Thanos Query Deployment and its ConfigMap live, and so where the Role grants access. */}}
{{- define "tsd.thanosNamespace" -}}
{{- default .Release.Namespace .Values.thanos.namespace }}
{{- end }}

{{/* registry/repository:tag, or registry/repository@digest when a digest pins it. */}}
{{- define "tsd.image" -}}
{{- $image := .Values.image }}
{{- $repository := $image.repository }}
{{- if $image.registry }}
{{- $repository = printf "%s/%s" $image.registry $image.repository }}
{{- end }}
{{- if $image.digest }}
{{- printf "%s@%s" $repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/* Replicas the Deployment runs: several only with leader election. */}}
{{- define "tsd.replicas" -}}
{{- if .Values.leaderElection.enabled }}{{ .Values.leaderElection.replicas | int }}{{ else }}1{{ end }}
{{- end }}

{{/* Secret and key holding the Mattermost hook URL; empty when no hook is configured. */}}
{{- define "tsd.hookSecretName" -}}
{{- $hook := .Values.alerts.mattermostHook }}
{{- if and $hook.existingSecret $hook.url }}
{{- fail "alerts.mattermostHook: set either existingSecret or url, not both" }}
{{- end }}
{{- if $hook.existingSecret }}
{{- $hook.existingSecret }}
{{- else if $hook.url }}
{{- printf "%s-alerts" (include "tsd.fullname" .) }}
{{- end }}
{{- end }}

{{- define "tsd.hookSecretKey" -}}
{{- if .Values.alerts.mattermostHook.existingSecret }}
{{- .Values.alerts.mattermostHook.existingSecretKey }}
{{- else }}
{{- "url" }}
{{- end }}
{{- end }}

{{/* Pod annotations: scrape hints and the hook checksum, overridable by podAnnotations. */}}
{{- define "tsd.podAnnotations" -}}
{{- $annotations := dict }}
{{- if and .Values.metrics.scrapeAnnotations (not (include "tsd.serviceMonitor" .)) }}
{{- $_ := set $annotations "prometheus.io/scrape" "true" }}
{{- $_ := set $annotations "prometheus.io/port" (.Values.metrics.port | int | toString) }}
{{- $_ := set $annotations "prometheus.io/path" "/metrics" }}
{{- end }}
{{- if and .Values.alerts.mattermostHook.url (not .Values.alerts.mattermostHook.existingSecret) }}
{{- /* Rolls the pod when the chart-managed hook URL changes; the URL itself stays in the Secret. */}}
{{- $_ := set $annotations "checksum/alerts-secret" (.Values.alerts.mattermostHook.url | sha256sum) }}
{{- end }}
{{- with .Values.route53.sources }}
{{- /* The sources file is read at start: a change rolls the pod. */}}
{{- $_ := set $annotations "checksum/sources" (toYaml . | sha256sum) }}
{{- end }}
{{- toYaml (merge (deepCopy .Values.podAnnotations) $annotations) }}
{{- end }}

{{/* "true" when the ServiceMonitor is rendered: then it scrapes the pods, and the scrape annotations are left out. */}}
{{- define "tsd.serviceMonitor" -}}
{{- if and .Values.serviceMonitor.enabled (include "tsd.monitoringApi" (list . "ServiceMonitor" .Values.serviceMonitor.force)) }}true{{ end }}
{{- end }}

{{/*
"true" when a monitoring.coreos.com/v1 object of this kind can be created: the cluster serves the CRD, or the value
`force` says to render it anyway (`helm template` without --api-versions, or CRDs installed in the same change).
Usage: include "tsd.monitoringApi" (list . "ServiceMonitor" .Values.serviceMonitor.force)
*/}}
{{- define "tsd.monitoringApi" -}}
{{- $root := index . 0 }}
{{- if or (index . 2) ($root.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" (index . 1))) }}true{{ end }}
{{- end }}

{{/* Half of resources.limits.memory in MiB (Mi, Gi, M, G or plain bytes), the V8 old-space cap; empty without a limit. */}}
{{- define "tsd.maxOldSpaceMb" -}}
{{- $limit := toString (dig "limits" "memory" "" (.Values.resources | default dict)) }}
{{- $mib := 0 }}
{{- if hasSuffix "Gi" $limit }}{{ $mib = mul (trimSuffix "Gi" $limit | atoi) 1024 }}
{{- else if hasSuffix "Mi" $limit }}{{ $mib = trimSuffix "Mi" $limit | atoi }}
{{- else if hasSuffix "G" $limit }}{{ $mib = div (mul (trimSuffix "G" $limit | atoi) 1000000000) 1048576 }}
{{- else if hasSuffix "M" $limit }}{{ $mib = div (mul (trimSuffix "M" $limit | atoi) 1000000) 1048576 }}
{{- else if regexMatch "^[0-9]+$" $limit }}{{ $mib = div ($limit | atoi) 1048576 }}
{{- else if $limit }}{{ fail (printf "resources.limits.memory %q: use Mi, Gi, M, G or bytes" $limit) }}
{{- end }}
{{- if gt (int $mib) 0 }}{{ div $mib 2 }}{{ end }}
{{- end }}
