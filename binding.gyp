{
  "targets": [
    {
      "target_name": "netns",
      "sources": ["native/netns.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
