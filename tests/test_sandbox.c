/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

Test(sandbox, placeholder) { cr_assert(1); }
