/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

Test(fresh, placeholder) { cr_assert(1); }
