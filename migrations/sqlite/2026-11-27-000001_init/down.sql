DROP TABLE server_secrets;
DROP TABLE reactions;
DROP TABLE comments;
DROP TABLE threads;
