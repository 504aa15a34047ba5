{
  "targets": [
    {
      "target_name": "tsvmm_kvm",
      "sources": ["tsvmm_kvm.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
