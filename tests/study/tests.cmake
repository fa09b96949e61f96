# Reader studies: workflow, blinding on every route (API, table model, CLI), wash-out, AI review,
# consensus and the scripted end-to-end study whose CSV and PDF must agree. Real SQLite files in
# temporary folders; the CLI is the real `panseg` executable. Under Xvfb (GUI): the report viewer's
# scroll position is checked on a real window.
if(TARGET panseg_ui AND TARGET panseg)
  panseg_add_test(tst_reader_study GUI BOTH_BACKENDS SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/study/tst_reader_study.cpp
                  LIBS panseg_ui panseg_database panseg_io panseg_core)
  target_compile_definitions(tst_reader_study PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>")
  add_dependencies(tst_reader_study panseg)
endif()
