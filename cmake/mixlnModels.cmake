# mixlnModels.cmake — reads examples/models.txt, the table of the example trainers (its header
# says what each column means), for examples/CMakeLists.txt and tests/CMakeLists.txt.
#
# mixln_read_models() sets, in the caller's scope:
#   MIXLN_MODELS                      every trainer, <config>_<placement>, in the table's order
#   MIXLN_MODEL_<trainer>_CONFIG, _PLACEMENT, _SOURCE, _PARAMS, _EXPORT, _LABEL   its cells (- : empty)
#   MIXLN_MODEL_<trainer>_TAGS        its tags, a list
# mixln_models_tagged(OUT TAG) sets OUT to the trainers tagged TAG, in the table's order.
set(MIXLN_MODELS_FILE ${CMAKE_CURRENT_LIST_DIR}/../examples/models.txt)
cmake_path(NORMAL_PATH MIXLN_MODELS_FILE)

macro(mixln_read_models)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${MIXLN_MODELS_FILE})
  set(MIXLN_MODELS "")
  file(STRINGS ${MIXLN_MODELS_FILE} _mixln_rows ENCODING UTF-8 REGEX "^[^#]")
  foreach(_mixln_row IN LISTS _mixln_rows)
    if(NOT _mixln_row MATCHES "^([a-z0-9_]+) +([a-z0-9_]+) +([^ ]+) +([^ ]+) +([^ ]+) +([^ ]+) +(.+)$")
      message(FATAL_ERROR "${MIXLN_MODELS_FILE}: '${_mixln_row}' is not 'config placement source tags params export label'")
    endif()
    set(_mixln_t ${CMAKE_MATCH_1}_${CMAKE_MATCH_2})
    list(APPEND MIXLN_MODELS ${_mixln_t})
    set(MIXLN_MODEL_${_mixln_t}_CONFIG ${CMAKE_MATCH_1})
    set(MIXLN_MODEL_${_mixln_t}_PLACEMENT ${CMAKE_MATCH_2})
    set(MIXLN_MODEL_${_mixln_t}_SOURCE ${CMAKE_MATCH_3})
    string(REPLACE "," ";" MIXLN_MODEL_${_mixln_t}_TAGS "${CMAKE_MATCH_4}")
    set(MIXLN_MODEL_${_mixln_t}_PARAMS "${CMAKE_MATCH_5}")
    set(MIXLN_MODEL_${_mixln_t}_EXPORT "${CMAKE_MATCH_6}")
    set(MIXLN_MODEL_${_mixln_t}_LABEL "${CMAKE_MATCH_7}")
  endforeach()
endmacro()

function(mixln_models_tagged out tag)
  set(found "")
  foreach(t IN LISTS MIXLN_MODELS)
    if(tag IN_LIST MIXLN_MODEL_${t}_TAGS)
      list(APPEND found ${t})
    endif()
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()
