{
  "targets": [
    {
      "target_name": "sealkeep_net",
      "sources": ["sealkeep_net.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
