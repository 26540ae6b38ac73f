# mdtest: helpers for the end-to-end tests (pebble, challtestsrv, private apache2 instances).
# Each helper owns its processes and files under a per-test work directory and cleans up after itself.
