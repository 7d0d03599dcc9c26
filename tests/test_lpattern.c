/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

Test(lpattern, placeholder) { cr_assert(1); }
