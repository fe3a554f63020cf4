// libopenblas-dev: CBLAS (sgemm) for the training module's matrix products.
#include <cblas.h>
