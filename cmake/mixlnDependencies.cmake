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
