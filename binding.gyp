{
  "targets": [
    {
      "target_name": "netns",
      "sources": ["native/netns.c", "native/process.c", "native/fs.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"]
    }
  ]
}
