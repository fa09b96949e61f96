# review: the workstation radiologists use for daily review (issue 20): command-line subcommands
# never need a display or crash at exit; per-user settings and blinding in the GUI, returned reads,
# the live Jobs dock, layout, background prediction (real widgets under xvfb, a real database).
if(TARGET panseg_ui AND TARGET panseg)
  panseg_add_test(tst_review_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_review_cli.cpp
                  ${CMAKE_CURRENT_LIST_DIR}/ReviewFixture.h
                  LIBS panseg_database panseg_io panseg_core Qt6::Core GUI)
  target_compile_definitions(tst_review_cli PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>")
  add_dependencies(tst_review_cli panseg)
endif()
if(TARGET panseg_ui)
  panseg_add_test(tst_review_workstation SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_review_workstation.cpp
                  ${CMAKE_CURRENT_LIST_DIR}/ReviewFixture.h LIBS panseg_ui panseg_database panseg_io GUI)
  set_tests_properties(tst_review_workstation PROPERTIES TIMEOUT 600)
  if(TARGET panseg-worker)
    target_compile_definitions(tst_review_workstation PRIVATE PANSEG_WORKER_PATH="$<TARGET_FILE:panseg-worker>"
                               PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
    add_dependencies(tst_review_workstation panseg-worker)
  endif()
endif()
# The coordinator's review (defect 5) from the command line:
# `panseg study review|compare|approve-consensus|approve-version|return-version`.
if(TARGET panseg)
  panseg_add_test(tst_review_compare_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_review_compare_cli.cpp
                  ${CMAKE_CURRENT_LIST_DIR}/ReviewFixture.h LIBS panseg_database panseg_io panseg_core Qt6::Core)
  target_compile_definitions(tst_review_compare_cli PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>")
  add_dependencies(tst_review_compare_cli panseg)
endif()
# The coordinator's review screen (defect 5): the Review dock under xvfb.
if(TARGET panseg_ui)
  panseg_add_test(tst_review_screen SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_review_screen.cpp
                  ${CMAKE_CURRENT_LIST_DIR}/ReviewFixture.h LIBS panseg_ui panseg_database panseg_io GUI)
  set_tests_properties(tst_review_screen PROPERTIES TIMEOUT 300)
endif()
# Issue 20's leftovers: prediction as a study setting, the Review dock following submissions, the
# review's read-only lock, the 3D view reframing on a new mask, screenshots and the clipboard.
if(TARGET panseg_ui)
  panseg_add_test(tst_review_joints SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_review_joints.cpp
                  ${CMAKE_CURRENT_LIST_DIR}/ReviewFixture.h LIBS panseg_ui panseg_database panseg_io GUI)
  set_tests_properties(tst_review_joints PROPERTIES TIMEOUT 300)
endif()
