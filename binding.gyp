{
  "targets": [
    {
      "target_name": "netns",
      "sources": ["native/netns.c", "native/process.c", "native/fs.c", "native/args.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"]
    }
  ]
}
