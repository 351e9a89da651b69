"""Sources that read the log files the container runtime writes: Docker's json-file logs
(discovery and metadata still from the Engine API) and the kubelet's CRI pod logs (no engine
at all). :mod:`.tail` follows one container's files through their rotations; :mod:`.watch`
wakes it when they change."""
