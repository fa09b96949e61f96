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
endif()
