{
  "targets": [
    {
      "target_name": "netns",
      "sources": ["native/netns.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"]
    }
  ]
}
