/*
 * replay.c: runs a libFuzzer entry point over every file of a corpus folder
 * (or over files given as arguments). Built with any compiler, so CI replays
 * the corpora in the ordinary and the ASan+UBSan builds alike.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
    fclose(f);
    free(buf);
    return 1;
  }
  fclose(f);
  /* exact-size heap copy so ASan catches any over-read */
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  int files = 0, errs = 0;
  for (int a = 1; a < argc; a++) {
    struct stat st;
    if (stat(argv[a], &st) != 0) {
      fprintf(stderr, "replay: %s: missing\n", argv[a]);
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[a]);
      struct dirent *e;
      while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", argv[a], e->d_name);
        errs += run_file(p);
        files++;
      }
      if (d) closedir(d);
    } else {
      errs += run_file(argv[a]);
      files++;
    }
  }
  printf("replayed %d inputs, %d unreadable\n", files, errs);
  if (files == 0) {
    fprintf(stderr, "replay: empty corpus\n");
    return 1;
  }
  return errs ? 1 : 0;
}
