{{/* Chart name, at most 63 characters. */}}
{{- define "smpp-connector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the controller's resources: release-chart, unless the release name already holds the chart name. */}}
{{- define "smpp-connector.fullname" -}}
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

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "smpp-connector.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the controller's pods (never change them across upgrades). */}}
{{- define "smpp-connector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "smpp-connector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/* Labels of every resource of the chart. */}}
{{- define "smpp-connector.labels" -}}
helm.sh/chart: {{ include "smpp-connector.chart" . }}
{{ include "smpp-connector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: smpp-connector
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Name of the controller's ServiceAccount. */}}
{{- define "smpp-connector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "smpp-connector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag or repository@digest; the tag defaults to the chart's appVersion. */}}
{{- define "smpp-connector.image" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository (default .appVersion .tag) }}
{{- end }}
{{- end }}

{{/* The controller image. */}}
{{- define "smpp-connector.controllerImage" -}}
{{- include "smpp-connector.image" (dict "repository" .Values.controller.image.repository "tag" .Values.controller.image.tag "digest" .Values.controller.image.digest "appVersion" .Chart.AppVersion) }}
{{- end }}

{{/* The default connector image, handed to the controller. */}}
{{- define "smpp-connector.connectorImage" -}}
{{- include "smpp-connector.image" (dict "repository" .Values.connector.image.repository "tag" .Values.connector.image.tag "digest" .Values.connector.image.digest "appVersion" .Chart.AppVersion) }}
{{- end }}

{{/* The connector image allow-list handed to the controller (ALLOWED_IMAGES): the configured
entries, or the default connector image's repository only. */}}
{{- define "smpp-connector.allowedImages" -}}
{{- join "," (default (list .Values.connector.image.repository) .Values.connector.allowedImages) }}
{{- end }}

{{/* Settings of the connectors' NetworkPolicies handed to the controller
(CONNECTOR_NETWORK_POLICY, JSON); the API server peer is the controller's own. */}}
{{- define "smpp-connector.connectorNetworkPolicy" -}}
{{- $np := .Values.connector.networkPolicy }}
{{- dict "platformPeers" $np.platformPeers "metricsPeers" $np.metricsPeers "apiServerCIDRs" .Values.networkPolicy.apiServerCIDRs "apiServerPort" .Values.networkPolicy.apiServerPort | toJson }}
{{- end }}

{{/* Namespace of the leader-election Lease. */}}
{{- define "smpp-connector.leaseNamespace" -}}
{{- default .Release.Namespace .Values.controller.leaderElection.namespace }}
{{- end }}

{{/* Checks of value combinations that the schema cannot express. */}}
{{- define "smpp-connector.validate" -}}
{{- if and (gt (int .Values.controller.replicas) 1) (not .Values.controller.leaderElection.enabled) }}
{{- fail "controller.replicas > 1 requires controller.leaderElection.enabled=true (two active controllers would fight over the same resources)" }}
{{- end }}
{{- end }}
