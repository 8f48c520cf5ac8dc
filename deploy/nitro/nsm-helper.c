/*
 * cloister-nsm-helper: the one thing Node cannot do inside a Nitro enclave, issue the
 * NSM_IOCTL_RAW ioctl on /dev/nsm (include/uapi/linux/nsm.h, Linux 6.8+; the same layout as the
 * older out-of-tree nitro_enclaves driver's two-iovec message).
 *
 * It listens on a Unix socket (argv[1], mode 0600) inside the enclave and serves connections
 * one at a time: read a u32 big-endian length and that many bytes of CBOR request (at most
 * NSM_REQUEST_MAX_SIZE), pass them to the NSM unchanged, write a u32 big-endian length and the
 * CBOR response, close. It never parses CBOR and holds no state: the enclave process
 * (src/enclave/platform/nsm.ts) builds requests and checks responses. It is part of the enclave
 * image, so it is measured in PCR0/PCR2 with everything else.
 *
 * Build (static, so the image needs no libc of a particular version):
 *   cc -O2 -Wall -Wextra -static -o cloister-nsm-helper nsm-helper.c
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define NSM_MAGIC 0x0A
#define NSM_REQUEST_MAX_SIZE 0x1000
#define NSM_RESPONSE_MAX_SIZE 0x3000

struct nsm_iovec {
  uint64_t addr;
  uint64_t len;
};
struct nsm_raw {
  struct nsm_iovec request;
  struct nsm_iovec response;
};
#define NSM_IOCTL_RAW _IOWR(NSM_MAGIC, 0x0, struct nsm_raw)

static int read_full(int fd, uint8_t *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    got += (size_t)n;
  }
  return 0;
}

static int write_full(int fd, const uint8_t *buf, size_t len) {
  size_t put = 0;
  while (put < len) {
    ssize_t n = write(fd, buf + put, len - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    put += (size_t)n;
  }
  return 0;
}

static void serve(int nsm, int conn) {
  static uint8_t req[NSM_REQUEST_MAX_SIZE], res[NSM_RESPONSE_MAX_SIZE];
  uint8_t hdr[4];
  if (read_full(conn, hdr, 4) != 0) return;
  uint32_t len = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) | hdr[3];
  if (len == 0 || len > NSM_REQUEST_MAX_SIZE || read_full(conn, req, len) != 0) return;
  struct nsm_raw msg = {
      .request = {.addr = (uint64_t)(uintptr_t)req, .len = len},
      .response = {.addr = (uint64_t)(uintptr_t)res, .len = sizeof res},
  };
  if (ioctl(nsm, NSM_IOCTL_RAW, &msg) != 0 || msg.response.len > sizeof res) return;
  uint32_t out = (uint32_t)msg.response.len;
  uint8_t ohdr[4] = {(uint8_t)(out >> 24), (uint8_t)(out >> 16), (uint8_t)(out >> 8), (uint8_t)out};
  if (write_full(conn, ohdr, 4) == 0) write_full(conn, res, out);
  memset(res, 0, sizeof res);
}

int main(int argc, char **argv) {
  if (argc != 2 || strlen(argv[1]) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
    fprintf(stderr, "usage: cloister-nsm-helper <socket path>\n");
    return 2;
  }
  int nsm = open("/dev/nsm", O_RDWR | O_CLOEXEC);
  if (nsm < 0) {
    perror("/dev/nsm");
    return 1;
  }
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strcpy(addr.sun_path, argv[1]);
  unlink(argv[1]);
  mode_t old = umask(077); /* the socket is created 0600: only the enclave user connects */
  if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 8) != 0) {
    perror(argv[1]);
    return 1;
  }
  umask(old);
  for (;;) {
    int conn = accept(s, NULL, NULL);
    if (conn < 0) {
      if (errno == EINTR) continue;
      perror("accept");
      return 1;
    }
    serve(nsm, conn);
    close(conn);
  }
}
