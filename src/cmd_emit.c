/* SPDX-License-Identifier: MIT */
#include "cmd.h"

int
tt_cmd_emit(int argc, char **argv)
{
	return TT_EXIT_FAILURE;
}
