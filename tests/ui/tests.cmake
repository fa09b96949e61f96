# ui: the viewer model without a display, and the window driven under xvfb (xcb/GLX).
if(TARGET panseg_ui)
  panseg_add_test(tst_viewer_model
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_viewer_model.cpp ${CMAKE_CURRENT_LIST_DIR}/SyntheticData.h
    LIBS panseg_ui)
  panseg_add_test(tst_viewer
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_viewer.cpp ${CMAKE_CURRENT_LIST_DIR}/SyntheticData.h
    LIBS panseg_ui GUI)
  target_include_directories(tst_viewer_model PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_include_directories(tst_viewer PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  # Issue 20: named, coloured labels (picker, Labels editor, overlay and 3D colours).
  panseg_add_test(tst_labels_gui
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_labels_gui.cpp ${CMAKE_CURRENT_LIST_DIR}/SyntheticData.h
    LIBS panseg_ui panseg_database panseg_io GUI)
  target_include_directories(tst_labels_gui PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  # Issue 14: property binding between view models and widgets (ui/PropertyBinding.h).
  panseg_add_test(tst_property_binding
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_property_binding.cpp ${CMAKE_CURRENT_LIST_DIR}/SyntheticData.h
    LIBS panseg_ui GUI)
  target_include_directories(tst_property_binding PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
endif()

# Prediction through the worker process (needs the LibTorch build: panseg-worker, panseg-models).
if(TARGET panseg_ui AND TARGET panseg-worker)
  panseg_add_test(tst_predict
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_predict.cpp ${CMAKE_CURRENT_LIST_DIR}/SyntheticData.h
    LIBS panseg_ui GUI)
  target_include_directories(tst_predict PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_compile_definitions(tst_predict PRIVATE PANSEG_WORKER_PATH="$<TARGET_FILE:panseg-worker>"
                                                 PANSEG_MODELS_TOOL="$<TARGET_FILE:panseg-models>")
  add_dependencies(tst_predict panseg-worker panseg-models)
  set_tests_properties(tst_predict PROPERTIES TIMEOUT 600)
  panseg_add_test(tst_predict_study SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_predict_study.cpp LIBS panseg_ui GUI)
  target_compile_definitions(tst_predict_study PRIVATE PANSEG_WORKER_PATH="$<TARGET_FILE:panseg-worker>"
                             PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
  add_dependencies(tst_predict_study panseg-worker)
  set_tests_properties(tst_predict_study PROPERTIES TIMEOUT 600)
endif()
if(TARGET panseg_ui) # the study browser (needs the GUI build, like the viewer tests)
  panseg_add_test(tst_study_browser SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ui/tst_study_browser.cpp LIBS panseg_ui panseg_database GUI)
endif()
# Segmentation > Model: the model catalog in the window's menu (fake packages, a real study database).
if(TARGET panseg_ui)
  panseg_add_test(tst_model_menu SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ui/tst_model_menu.cpp
                  ${CMAKE_CURRENT_SOURCE_DIR}/ui/SyntheticData.h LIBS panseg_ui panseg_database GUI)
  target_include_directories(tst_model_menu PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/ui)
  target_compile_definitions(tst_model_menu PRIVATE
                             PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
endif()
# Issue 20 defects 8 and 9 on real widgets: flagged AI masks in the study browser (confirmation on
# approve), the reference-mask rule in the Volumes dock.
if(TARGET panseg_ui)
  panseg_add_test(tst_plausibility_gui SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ui/tst_plausibility_gui.cpp
                  LIBS panseg_ui panseg_database GUI)
endif()
# Issue 19: Help > System Information runs the real helpers' doctor and shows their report.
if(TARGET panseg_ui AND TARGET panseg-worker AND TARGET panseg-train)
  panseg_add_test(tst_system_info_gui SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ui/tst_system_info_gui.cpp
                  LIBS panseg_ui panseg_database GUI)
  target_compile_definitions(tst_system_info_gui PRIVATE PANSEG_WORKER_EXE="$<TARGET_FILE:panseg-worker>"
                             PANSEG_TRAIN_EXE="$<TARGET_FILE:panseg-train>"
                             PANSEG_EXPECTED_TORCH_VERSION="${PANSEG_TORCH_VERSION}")
  add_dependencies(tst_system_info_gui panseg-worker panseg-train)
  set_tests_properties(tst_system_info_gui PROPERTIES TIMEOUT 600 LABELS "ui;doctor")
endif()
# Issue 18: File > Import Model and `panseg model import` (db::importModel running panseg-models) on
# the real nnU-Net v1 / v2 checkpoints of ../shared/fixtures.
if(TARGET panseg_ui AND TARGET panseg-models)
  panseg_add_test(tst_model_import SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ui/tst_model_import.cpp
                  LIBS panseg_ui panseg_database GUI)
  target_compile_definitions(tst_model_import PRIVATE PANSEG_MODELS_TOOL="$<TARGET_FILE:panseg-models>"
                             PANSEG_EXE="$<TARGET_FILE:panseg>")
  add_dependencies(tst_model_import panseg-models panseg)
  set_tests_properties(tst_model_import PROPERTIES TIMEOUT 600 LABELS "ui;models")
endif()
