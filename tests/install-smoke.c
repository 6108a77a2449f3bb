/* Built by check-install.sh against the installed headers and library. */
#include <stdio.h>
#include <string.h>

#include <xs2s/xs2s.h>

int main(void) {
  if (strcmp(xs2s_version(), XS2S_VERSION_STRING) != 0) {
    fprintf(stderr, "header %s, library %s\n", XS2S_VERSION_STRING,
            xs2s_version());
    return 1;
  }
  printf("installed xs2s %s: %s\n", xs2s_version(),
         xs2s_strerror(XS2S_ERR_NOMEM));
  return 0;
}
