#include "pipeline/pipeline.h"

int main(int argc, char **argv)
{
	return pl_main(argc, argv);
}
