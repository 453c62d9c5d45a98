"""The Explore tab: the image browser, the viewer and the panels beside it (Ask, Caption, Compare,
Models, History), with the charts they draw."""
