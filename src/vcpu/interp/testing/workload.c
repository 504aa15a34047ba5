/* A freestanding integer workload for the interpreter tests: the same functions run natively (host
 * CPU) and in the guest (64-bit long mode on the interpreter); results must be identical. Exercises
 * what gcc -O2 emits: jump tables, recursion, 64/128-bit multiply and divide, bit builtins, string
 * loops, struct copies, signed/unsigned mixes, CMOV/SETcc. */
typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef unsigned char u8;

static u8 buf[4096];
static u32 arr[512];

static u64 fnv(const u8 *p, u64 n) {
  u64 h = 0xcbf29ce484222325ul;
  for (u64 i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ul; }
  return h;
}

static u64 sieve(u32 n) {
  static u8 comp[8192];
  for (u32 i = 0; i < n; i++) comp[i] = 0;
  u64 count = 0;
  for (u32 i = 2; i < n; i++) {
    if (comp[i]) continue;
    count += i;
    for (u32 j = i * 2; j < n; j += i) comp[j] = 1;
  }
  return count;
}

static void sort(u32 *a, int lo, int hi) {
  while (lo < hi) {
    u32 p = a[(lo + hi) / 2];
    int i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) { u32 t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (j - lo < hi - i) { sort(a, lo, j); lo = i; } else { sort(a, i, hi); hi = j; }
  }
}

static u64 fib(u32 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static i64 classify(i64 x) {
  switch (x & 15) {
    case 0: return x * 3;
    case 1: return x - 7;
    case 2: return x ^ 0x55;
    case 3: return -x;
    case 4: return x / 3;
    case 5: return x % 7;
    case 6: return x << 3;
    case 7: return x >> 2;
    case 8: return (u64)x >> 5;
    case 9: return x | 0x1000;
    default: return x + 1;
  }
}

struct S { u64 a; u32 b; u8 c[13]; };

static u64 structs(void) {
  struct S s[8];
  for (int i = 0; i < 8; i++) { s[i].a = i * 0x123456789ul; s[i].b = i * 77; for (int k = 0; k < 13; k++) s[i].c[k] = (u8)(i + k); }
  struct S t = s[3];
  s[5] = t;
  u64 h = 0;
  for (int i = 0; i < 8; i++) h = h * 31 + s[i].a + s[i].b + s[i].c[12];
  return h;
}

static u64 bits(u64 x) {
  u64 r = 0;
  for (int i = 0; i < 64; i++) {
    u64 v = x * (i + 1) ^ (x >> i);
    r += (u64)__builtin_popcountl(v) + (v ? (u64)__builtin_clzl(v) : 0) + (v ? (u64)__builtin_ctzl(v) : 0);
    r ^= __builtin_bswap64(v);
    r = (r << 7) | (r >> 57);
  }
  return r;
}

static u64 wide(u64 a, u64 b) {
  unsigned __int128 p = (unsigned __int128)a * b;
  __int128 q = (__int128)(i64)a * (i64)b;
  u64 d = b ? a / (b | 1) : 0;
  i64 m = (i64)a % ((i64)b | 3);
  return (u64)(p >> 64) ^ (u64)p ^ (u64)(q >> 64) ^ d ^ (u64)m;
}

void run(u64 *out) {
  for (int i = 0; i < 4096; i++) buf[i] = (u8)(i * 7 + (i >> 3));
  out[0] = fnv(buf, sizeof buf);
  out[1] = sieve(8000);
  u32 seed = 12345;
  for (int i = 0; i < 512; i++) { seed = seed * 1103515245u + 12345u; arr[i] = seed >> 3; }
  sort(arr, 0, 511);
  u64 ok = 1;
  for (int i = 1; i < 512; i++) ok &= arr[i - 1] <= arr[i];
  out[2] = ok * 1000 + arr[0] + arr[511];
  out[3] = fib(20);
  i64 acc = 0;
  for (i64 x = -300; x < 300; x += 7) acc += classify(x * 1234567);
  out[4] = (u64)acc;
  out[5] = structs();
  out[6] = bits(0x0123456789abcdeful);
  u64 w = 0;
  for (u64 a = 1; a < 1000000000000ul; a = a * 7 + 3) w ^= wide(a, a * 13 + 0xfffffffful);
  out[7] = w;
}
