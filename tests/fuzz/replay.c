/*
 * replay.c: runs a fuzz target's entry point on every file of the corpus
 * directories given as arguments, so that corpora are ordinary tests with
 * any compiler.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cap = 4096, len = 0;
  uint8_t *data = malloc(cap);
  size_t n;
  while (data && (n = fread(data + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      uint8_t *grown = realloc(data, cap *= 2);
      if (!grown)
        free(data);
      data = grown;
    }
  }
  fclose(f);
  if (!data)
    return -1;
  LLVMFuzzerTestOneInput(data, len);
  free(data);
  return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv) {
  int files = 0, failed = 0;
  for (int i = 1; i < argc; i++) {
    struct dirent **entries;
    int n = scandir(argv[i], &entries, NULL, by_name);
    if (n < 0) {
      perror(argv[i]);
      return 1;
    }
    for (int j = 0; j < n; j++) {
      if (entries[j]->d_name[0] != '.') {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[i], entries[j]->d_name);
        failed |= run_file(path) < 0;
        files++;
      }
      free(entries[j]);
    }
    free(entries);
  }
  printf("%d inputs replayed\n", files);
  return failed || files == 0;
}
