{{- define "logship.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "logship.fullname" -}}
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

{{- define "logship.selectorLabels" -}}
app.kubernetes.io/name: {{ include "logship.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "logship.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "logship.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "logship.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret mounted at secret.mountPath: the chart's own, an existing one, or none. */}}
{{- define "logship.secretName" -}}
{{- if and .Values.secret.create .Values.secret.existingSecret }}
{{- fail "secret: set either create (with files) or existingSecret, not both" }}
{{- end }}
{{- if and .Values.secret.create (not .Values.secret.files) }}
{{- fail "secret.create is true but secret.files is empty: give the files (name: content)" }}
{{- end }}
{{- if .Values.secret.create }}
{{- include "logship.fullname" . }}
{{- else }}
{{- .Values.secret.existingSecret }}
{{- end }}
{{- end }}

{{/* The name prefix of the DaemonSet's pods: the API server appends five characters to it
(the DaemonSet's name and "-", cut to 58 characters). */}}
{{- define "logship.podPrefix" -}}
{{- printf "%s-" (include "logship.fullname" .) | trunc 58 }}
{{- end }}

{{/* logship's settings file: the values' config, with logship's own pods excluded (unless
shipOwnLogs) by their names as the CRI source (<pod>/<container>) and Docker's kubelet
(k8s_<container>_<pod>_<namespace>_<uid>_<attempt>) give them. */}}
{{- define "logship.config" -}}
{{- $config := deepCopy .Values.config }}
{{- if not .Values.shipOwnLogs }}
{{- $pod := printf "%s?????" (include "logship.podPrefix" .) }}
{{- $exclude := get $config "exclude" | default dict }}
{{- $names := get $exclude "names" | default list }}
{{- if kindIs "string" $names }}
{{- $names = splitList "," $names }}
{{- end }}
{{- $own := list (printf "%s/logship" $pod) (printf "k8s_logship_%s_%s_*" $pod .Release.Namespace) }}
{{- $_ := set $exclude "names" (concat $names $own) }}
{{- $_ = set $config "exclude" $exclude }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* The Secret holding the HTTP token (with http.logs.enabled): the user's, or the chart's. */}}
{{- define "logship.httpTokenSecret" -}}
{{- if .Values.http.logs.existingSecret }}
{{- .Values.http.logs.existingSecret }}
{{- else }}
{{- printf "%s-http-token" (include "logship.fullname" .) }}
{{- end }}
{{- end }}

{{/* The pods' service account: the chart's (serviceAccount.name, or the full name), or one
that exists (serviceAccount.name, or the namespace's "default"). */}}
{{- define "logship.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "logship.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}
