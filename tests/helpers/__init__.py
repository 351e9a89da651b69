"""What the tests share: test data, stand-in receivers, real servers and processes.

Test modules import from here and never from one another; fixtures built on these live in
the conftest.py files. A helper never imports a test module.

- records: the test host, containers (``make_meta``) and records (``make_record``...)
- syslog_wire: syslog read as the RFCs say (RFC 5424/3164 parsers, RFC 6587 framing)
- http_answers: canned answers for an ``HttpTransport``, without sockets
- receivers/: strict stand-ins for Elasticsearch ``_bulk``, GELF and Fluentd forward servers
- rsyslog: a real rsyslogd and what it received
- agent_process: ``logship`` run as a user runs it, in a process of its own
- http: the agent's HTTP server as a client sees it (address, metrics scrape)
- containers: the test image, the test label, and the containers a test starts
- docker_cli, engine_proxy, private_engine, tls_engine: the docker CLI, a TCP front for the
  engine's socket, and Docker engines of the tests' own
- image: logship's own image, built as the README says
- faults: the figures a fault scenario prints
- kubelet: container log files written and rotated as the runtimes do (the file sources)
- tls: a throwaway certificate authority; browser: a headless Chromium
- paths, ports, waiting: where things are, free ports, waiting for a condition
"""
