package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// ServiceHash is the config hash docker compose stores in the com.docker.compose.config-hash label
// and prints with `config --hash`: the SHA-256 of the service's JSON without the attributes that
// do not change the container (build, pull policy, scale, replicas, depends_on, profiles). berth
// uses this one function for both, so the label always equals what `config --hash` prints.
func ServiceHash(s ServiceConfig) (string, error) {
	s.Build = nil
	s.PullPolicy = ""
	s.Scale = nil
	if s.Deploy != nil {
		deploy := *s.Deploy
		deploy.Replicas = nil
		s.Deploy = &deploy
	}
	s.DependsOn = nil
	s.Profiles = nil
	data, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}
