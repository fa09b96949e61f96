# Mask editing: core/edit tools headless; the editing GUI under xvfb.
panseg_add_test(tst_edit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/edit/tst_edit.cpp LIBS panseg_core)
if(TARGET panseg_ui)
  panseg_add_test(tst_edit_gui SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/edit/tst_edit_gui.cpp
                  LIBS panseg_ui panseg_database GUI)
endif()
# Crash recovery with a real SIGKILL of a child main window (docs/editing.md).
if(TARGET panseg_ui)
  panseg_add_test(tst_edit_recovery SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/edit/tst_edit_recovery.cpp
                  LIBS panseg_ui panseg_core GUI)
endif()
# Grow from seeds and the robot user of interactive segmentation (docs/interactive.md), headless.
panseg_add_test(tst_growcut SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/edit/tst_growcut.cpp LIBS panseg_core)
if(TARGET panseg_ui)
  panseg_add_test(tst_interact_gui SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/edit/tst_interact_gui.cpp
                  LIBS panseg_ui panseg_core GUI)
  if(TARGET panseg-worker) # the box prompt runs the demo model in the worker
    target_compile_definitions(tst_interact_gui PRIVATE PANSEG_WORKER_PATH="$<TARGET_FILE:panseg-worker>"
                               PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
    add_dependencies(tst_interact_gui panseg-worker)
    set_tests_properties(tst_interact_gui PROPERTIES TIMEOUT 600)
  endif()
endif()
# `panseg interact` end to end (the demo model through panseg-worker when it is built).
if(TARGET panseg AND TARGET panseg_io)
  panseg_add_test(tst_interact_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/edit/tst_interact_cli.cpp
                  LIBS panseg_io panseg_core Qt6::Core)
  target_compile_definitions(tst_interact_cli PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>"
                                                      PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
  add_dependencies(tst_interact_cli panseg)
  if(TARGET panseg-worker)
    add_dependencies(tst_interact_cli panseg-worker)
    target_compile_definitions(tst_interact_cli PRIVATE PANSEG_WORKER_PATH="$<TARGET_FILE:panseg-worker>")
  endif()
  set_tests_properties(tst_interact_cli PROPERTIES TIMEOUT 600)
endif()
