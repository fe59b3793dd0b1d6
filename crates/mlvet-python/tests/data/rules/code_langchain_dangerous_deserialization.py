# Patterns from the LangChain FAISS vector store how-to ("Saving and loading").
from langchain_community.vectorstores import FAISS
from langchain_openai import OpenAIEmbeddings

embeddings = OpenAIEmbeddings()
db = FAISS.from_texts(["hello"], embeddings)
db.save_local("faiss_index")
new_db = FAISS.load_local("faiss_index", embeddings, allow_dangerous_deserialization=True)  # expect: code-langchain-dangerous-deserialization
restored = FAISS.deserialize_from_bytes(serialized, embeddings, allow_dangerous_deserialization=True)  # expect: code-langchain-dangerous-deserialization
refused = FAISS.load_local("faiss_index", embeddings)
