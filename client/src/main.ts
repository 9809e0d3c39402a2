// Client entry: registers the components; <labdeck-app> in index.html does the rest.
import './components/app.js';
