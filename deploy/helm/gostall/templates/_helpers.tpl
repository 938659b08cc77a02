{{- define "gostall.name" -}}
{{- printf "%s-agent" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gostall.labels" -}}
app.kubernetes.io/name: gostall-agent
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "gostall.config" -}}
{{- $export := dict "endpoint" (required "endpoint is required" .Values.endpoint) "spool" (dict "dir" "/var/lib/gostall/spool" "maxSize" .Values.spool.maxSize) -}}
{{- $cfg := dict "export" $export "metrics" (dict "listen" (printf "0.0.0.0:%v" .Values.metrics.port)) "stateDir" "/var/lib/gostall" "shutdownDeadline" "15s" -}}
{{- if .Values.executables -}}{{- $_ := set $cfg "executables" .Values.executables -}}{{- end -}}
{{- toPrettyJson $cfg -}}
{{- end -}}
