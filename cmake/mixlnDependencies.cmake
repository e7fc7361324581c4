# mixlnDependencies.cmake — find what mixln's headers need; used by the build and installed
# with the package, so that find_package(mixln) brings the same dependencies.
#
# Provides: Boost::headers (Hana), OpenMP::OpenMP_CXX, nlohmann_json::nlohmann_json,
# mixln::sentencepiece and
# mixln::openblas (OpenBLAS with CBLAS; the OpenMP build is preferred, so that BLAS calls made
# inside OpenMP parallel regions stay on their thread).
include(CMakeFindDependencyMacro)

find_dependency(Boost 1.70)
find_dependency(OpenMP)
find_dependency(nlohmann_json 3.2)

if(NOT TARGET mixln::openblas)
  find_library(MIXLN_OPENBLAS_LIBRARY
    NAMES openblas
    HINTS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp
    NO_DEFAULT_PATH)
  if(NOT MIXLN_OPENBLAS_LIBRARY)
    find_library(MIXLN_OPENBLAS_LIBRARY NAMES openblas)
  endif()
  find_path(MIXLN_CBLAS_INCLUDE_DIR NAMES cblas.h
    PATH_SUFFIXES openblas ${CMAKE_LIBRARY_ARCHITECTURE})
  if(NOT MIXLN_OPENBLAS_LIBRARY OR NOT MIXLN_CBLAS_INCLUDE_DIR)
    message(FATAL_ERROR "mixln needs OpenBLAS with CBLAS (Debian: apt install libopenblas-openmp-dev)")
  endif()
  add_library(mixln::openblas INTERFACE IMPORTED)
  set_target_properties(mixln::openblas PROPERTIES
    INTERFACE_LINK_LIBRARIES "${MIXLN_OPENBLAS_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${MIXLN_CBLAS_INCLUDE_DIR}")
endif()

# SentencePiece: the tokenizer (mixln::sentencepiece; training needs sentencepiece_train too).
if(NOT TARGET mixln::sentencepiece)
  find_library(MIXLN_SENTENCEPIECE_LIBRARY NAMES sentencepiece)
  find_library(MIXLN_SENTENCEPIECE_TRAIN_LIBRARY NAMES sentencepiece_train)
  find_path(MIXLN_SENTENCEPIECE_INCLUDE_DIR NAMES sentencepiece_processor.h)
  if(NOT MIXLN_SENTENCEPIECE_LIBRARY OR NOT MIXLN_SENTENCEPIECE_TRAIN_LIBRARY OR NOT MIXLN_SENTENCEPIECE_INCLUDE_DIR)
    message(FATAL_ERROR "mixln needs SentencePiece (Debian: apt install libsentencepiece-dev)")
  endif()
  add_library(mixln::sentencepiece INTERFACE IMPORTED)
  set_target_properties(mixln::sentencepiece PROPERTIES
    INTERFACE_LINK_LIBRARIES "${MIXLN_SENTENCEPIECE_TRAIN_LIBRARY};${MIXLN_SENTENCEPIECE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${MIXLN_SENTENCEPIECE_INCLUDE_DIR}")
endif()

# oneDNN (optional): --precision bf16 on CPUs with bf16 instructions runs its matmul
# (cpu/gemm_bf16.hpp); without it bf16 is emulated through sgemm. -DMIXLN_DNNL=OFF leaves it out.
# Found by library and header rather than dnnl-config.cmake: Debian's config demands the OpenCL
# headers for its GPU runtime, which the CPU matmul never touches.
if(NOT TARGET mixln::dnnl)
  add_library(mixln::dnnl INTERFACE IMPORTED)
  if(NOT DEFINED MIXLN_DNNL OR MIXLN_DNNL)
    find_library(MIXLN_DNNL_LIBRARY NAMES dnnl)
    find_path(MIXLN_DNNL_INCLUDE_DIR NAMES oneapi/dnnl/dnnl.hpp)
    if(MIXLN_DNNL_LIBRARY AND MIXLN_DNNL_INCLUDE_DIR)
      set_target_properties(mixln::dnnl PROPERTIES
        INTERFACE_LINK_LIBRARIES "${MIXLN_DNNL_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${MIXLN_DNNL_INCLUDE_DIR}"
        INTERFACE_COMPILE_DEFINITIONS MIXLN_WITH_DNNL)
      message(STATUS "mixln: oneDNN ${MIXLN_DNNL_LIBRARY}: bf16 GEMMs on the CPU")
    else()
      message(STATUS "mixln: no oneDNN (Debian: libdnnl-dev): --precision bf16 is emulated on the CPU")
    endif()
  endif()
endif()
