#include "framework/cli.h"
#include "operators/builtin.h"

int main(int argc, char **argv)
{
	return pl_cli_main(argc, argv, pl_builtin_operators);
}
