{
  "targets": [
    {
      "target_name": "sealkeep_block",
      "sources": ["sealkeep_block.c", "sector_crypto.c", "sector_tags_lanes.c", "sha256_pairs.c", "xts_provider.c", "merkle_root.c", "gcm_in_place.c", "gcm_vaes.c"],
      "defines": ["NAPI_VERSION=8", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
