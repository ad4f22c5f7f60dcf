/* pl_main: the command line with the built-in operators, exported from
 * libpipeline so that the binary is a one-line main. */
#include "framework/cli.h"
#include "operators/builtin.h"
#include "pipeline/pipeline.h"

int pl_main(int argc, char **argv)
{
	return pl_cli_main(argc, argv, pl_builtin_operators);
}

const char *pl_version(void)
{
	return PL_VERSION;
}
