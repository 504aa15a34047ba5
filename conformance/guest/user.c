/*
 * Ring-3 helper: run a function at CPL3 (Intel SDM Vol. 3A §5.5 "Privilege Levels", §6.12.1 stack
 * switching on an exception from CPL3 through TSS.RSP0) and report whether it returned or faulted.
 * User functions must live in the .user section (USER_CODE) and touch only user pages: their own stack
 * and USER_DATA objects. The user side ends with HLT, which raises #GP at CPL3 and brings control back.
 */
#include "tsvmm.h"

u64 run_user_asm(u64 fn, u64 arg, u64 user_stack_top);
extern char user_exit_stub[];

static u8 user_stack[4096] __attribute__((section(".user.data"), aligned(16)));
static int user_vector;
static u64 user_value;

void user_exception(u64 vector, u64 error_code, u64 rip, u64 cr2, u64 rax);
void user_exception(u64 vector, u64 error_code, u64 rip, u64 cr2, u64 rax) {
  if (vector == GP_VECTOR && rip == (u64)user_exit_stub) {
    user_vector = NO_EXCEPTION;
    user_value = rax;
    return;
  }
  user_vector = (int)vector;
  user_value = 0;
  last_ex.vector = (int)vector;
  last_ex.error_code = error_code;
  last_ex.rip = rip;
  last_ex.cr2 = cr2;
  last_ex.count++;
}

int run_user(u64 (*fn)(u64), u64 arg, u64 *result) {
  user_vector = NO_EXCEPTION;
  user_value = 0;
  run_user_asm((u64)fn, arg, (u64)(user_stack + sizeof(user_stack)));
  if (result) *result = user_value;
  return user_vector;
}
